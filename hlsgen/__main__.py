import sys

from hlsgen.cli import main

sys.exit(main())
