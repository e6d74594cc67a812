"""`python3 -m hoist_agent COMMAND` (from the source tree)."""
import sys

from hoist_agent.cli import main

sys.exit(main(sys.argv))
