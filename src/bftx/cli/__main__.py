import sys

from bftx.cli import main

sys.exit(main())
