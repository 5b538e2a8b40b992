import sys

from aifactory.nodecheck.cli import main

sys.exit(main())
