"""Generate the Python gRPC stubs from proto/ (filled in by the service issue)."""

import sys

if __name__ == "__main__":
    sys.exit(0)
