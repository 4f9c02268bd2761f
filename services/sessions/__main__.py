import asyncio

from dsync_services.sessions.main import main

asyncio.run(main())
