import sys

from promptsearch.cli.main import main

sys.exit(main())
