import asyncio

from dsync_services.gateway.main import main

asyncio.run(main())
