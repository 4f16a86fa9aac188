#!/usr/bin/python3
# nova-compute from python3-nova, without the nova-compute package (which pulls libvirt and qemu).
import sys
from nova.cmd.compute import main
sys.exit(main())
