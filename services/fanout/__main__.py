import asyncio

from dsync_services.fanout.main import main

asyncio.run(main())
