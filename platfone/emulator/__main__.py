import sys

from platfone.emulator.server import main

sys.exit(main())
