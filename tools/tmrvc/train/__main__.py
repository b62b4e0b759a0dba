import sys

from tmrvc.train.cli import main

sys.exit(main())
