"""``python -m pmsync.simulator …`` is ``pmsync simulator …``."""

from pmsync.cli.simulator_cmd import simulator

simulator(prog_name="python -m pmsync.simulator")
