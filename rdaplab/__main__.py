import sys

from rdaplab.cli import main

sys.exit(main())
