import sys

from container.entry import main

sys.exit(main())
