from dsync_services.stack.run import main

raise SystemExit(main())
