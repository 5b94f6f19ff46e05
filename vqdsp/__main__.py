import sys

from vqdsp.cli import main

sys.exit(main())
