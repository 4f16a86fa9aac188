"""An ML2 mechanism driver for a lab without L2 agents.

Neutron's stock drivers bind a port only when a live agent is registered for its host; the lab has none, so
every port would end binding_failed and Nova would put the server in ERROR. This driver binds every port to
the flat segment, and keeps each bound port's fixed IPs in the network namespace standing in for its host,
so that a server that moves (evacuation) answers ping from its new host only.
"""
import os
import subprocess

# Neutron's get_ports names Port.port_forwardings, a backref this model adds; without the port-forwarding
# service plugin nothing may import it, and listing ports then fails now and then with AttributeError.
from neutron.db.models import port_forwarding  # noqa: F401
from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api
from oslo_log import log
from sqlalchemy import orm

LOG = log.getLogger(__name__)
HOST_SCRIPT = os.environ.get('CMPHA_LAB_HOST_SCRIPT')


def _ips(port):
    return [ip['ip_address'] for ip in port.get('fixed_ips', []) if ':' not in ip['ip_address']]


def _run(*args):
    if not HOST_SCRIPT:
        return
    try:
        subprocess.run([HOST_SCRIPT, *args], check=True, timeout=20, capture_output=True)
    except Exception as exc:  # the lab's plumbing must never fail a port operation
        LOG.warning('cmpha lab: %s %s failed: %s', HOST_SCRIPT, ' '.join(args), exc)


class AgentlessFlatDriver(api.MechanismDriver):
    def initialize(self):
        try:
            orm.configure_mappers()
        except Exception as exc:  # Neutron configures them itself later; only the backref above matters
            LOG.warning('cmpha lab: configure_mappers: %s', exc)
        LOG.info('cmpha lab: agentless flat mechanism driver, host script %s', HOST_SCRIPT)

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            if segment[api.NETWORK_TYPE] == constants.TYPE_FLAT:
                context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OTHER, {},
                                    status=constants.PORT_STATUS_ACTIVE)
                return

    def _place(self, context):
        port = context.current
        host = port.get(portbindings.HOST_ID)
        vif = port.get(portbindings.VIF_TYPE)
        if not host or vif in (portbindings.VIF_TYPE_UNBOUND, portbindings.VIF_TYPE_BINDING_FAILED):
            return
        ips = _ips(port)
        if ips:
            _run('addr-move', host, *ips)

    def create_port_postcommit(self, context):
        self._place(context)

    def update_port_postcommit(self, context):
        self._place(context)

    def delete_port_postcommit(self, context):
        ips = _ips(context.current)
        if ips:
            _run('addr-del', *ips)
