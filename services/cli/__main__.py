from dsync_services.cli.main import main

raise SystemExit(main())
