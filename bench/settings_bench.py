"""medtrace.settings plus one override, for the HTTP capture benchmark only.

Django refuses request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default) before the
view runs, and medtrace.settings leaves that default in place, so POST /epcis/capture of a
10k-event document (~5.4 MB) fails with 400 RequestDataTooBig. bench_capture.py http records
that failure with the real settings, then measures with this module, which raises the limit to
the capture limit the ledger itself declares (services.CAPTURE_FILE_SIZE_LIMIT, 1 GiB).
"""

from medtrace.settings import *  # noqa: F403

DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024 * 1024
