from dsync.process import run_service
from dsync_services.roles.main import main

run_service(main)
