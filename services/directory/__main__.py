from dsync.process import run_service
from dsync_services.directory.main import main

run_service(main)
