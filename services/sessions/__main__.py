from dsync.process import run_service
from dsync_services.sessions.main import main

run_service(main)
