from dsync.process import run_service
from dsync_services.fanout.main import main

run_service(main)
