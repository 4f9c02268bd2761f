import asyncio

from dsync_services.directory.main import main

asyncio.run(main())
