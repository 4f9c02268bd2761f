from dsync.process import run_service
from dsync_services.gateway.main import main

run_service(main)
