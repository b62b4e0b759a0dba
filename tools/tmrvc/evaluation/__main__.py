import sys

from tmrvc.evaluation.run import main

sys.exit(main())
