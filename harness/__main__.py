import sys

from hubrig.harness.cli import main

sys.exit(main())
