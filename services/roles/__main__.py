import asyncio

from dsync_services.roles.main import main

asyncio.run(main())
