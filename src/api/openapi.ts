// The OpenAPI document of /v1, served at /v1/openapi.json and shipped as docs/openapi.json (a test keeps the
// two equal). Written by hand next to the routes in server.ts; the API test walks every path listed here.

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { $ref: `#/components/responses/E${c}` }]));
const mErrors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), json(ref('MasakariFault'), `Masakari-style fault (HTTP ${c})`)]));
const idParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const limit = (d: number) => ({ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: d } });

export const OPENAPI = {
  openapi: '3.0.3',
  info: {
    title: 'cmpha API',
    version: '1',
    description: 'Incidents, host verdicts and the storm brake of a cmpha controller, and a Masakari-compatible notification intake. Times are ISO-8601 UTC. Errors are {"error":{"code","message","status"}} (Masakari routes: Masakari\'s fault shape).',
  },
  servers: [{ url: '/' }],
  security: [{ bearer: [] }, { xAuthToken: [] }],
  paths: {
    '/v1/incidents': {
      get: {
        summary: 'List incidents, newest first', operationId: 'listIncidents',
        parameters: [limit(50), { name: 'status', in: 'query', schema: { type: 'string', enum: ['open', 'closed'] } }],
        responses: { 200: json({ type: 'object', properties: { incidents: { type: 'array', items: ref('IncidentRecord') } } }, 'Incidents'), ...errors(400, 401) },
      },
    },
    '/v1/incidents/{id}': {
      get: {
        summary: 'One incident with its timeline, instances and notifications', operationId: 'showIncident',
        parameters: [idParam('id', 'incident id')],
        responses: { 200: json({ type: 'object', properties: { incident: ref('Incident') } }, 'The incident'), ...errors(401, 404) },
      },
    },
    '/v1/incidents/{id}/ack': {
      post: {
        summary: 'Acknowledge an incident: repeated pages stop; the token name is recorded in its timeline', operationId: 'ackIncident',
        parameters: [idParam('id', 'incident id')],
        requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { by: { type: 'string', description: 'the person acknowledging; recorded beside the token name' } } } } } },
        responses: { 200: json({ type: 'object', properties: { incident: ref('IncidentRecord'), alreadyAcknowledged: { type: 'boolean' } } }, 'Acknowledged'), ...errors(401, 403, 404) },
      },
    },
    '/v1/hosts': {
      get: {
        summary: "Every compute host with its verdict and evidence from the detector's last round", operationId: 'listHosts',
        responses: { 200: json({ type: 'object', properties: { round: ref('Round'), stormBrake: { type: 'object' }, hosts: { type: 'array', items: ref('Host') } } }, 'Hosts'), ...errors(401, 503) },
      },
    },
    '/v1/hosts/{host}': {
      get: {
        summary: 'One host', operationId: 'showHost', parameters: [idParam('host', 'compute host name')],
        responses: { 200: json({ type: 'object', properties: { round: ref('Round'), host: ref('Host') } }, 'The host'), ...errors(401, 404, 503) },
      },
    },
    '/v1/hosts/{host}/fence-confirm': {
      post: {
        summary: "As `cmpha fence confirm HOST --yes`: a person's word that the host is off, for its incident waiting for a fence after every attempt failed; the recovery goes on", operationId: 'confirmFence',
        parameters: [idParam('host', 'compute host name')],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['confirm'], properties: { confirm: { type: 'boolean', enum: [true], description: 'I made sure the host is powered off or cut from its disks' }, note: { type: 'string', description: 'what was checked; recorded in the incident and the notice' }, by: { type: 'string', description: 'the person; recorded beside the token name' } } } } } },
        responses: { 200: json({ type: 'object', properties: { incident: ref('IncidentRecord') } }, 'Confirmed; the recovery continues'), 409: json(ref('Error'), 'No incident of that host waits for a fence (no_fence_awaited)'), ...errors(400, 401, 403) },
      },
    },
    '/v1/storm-brake': {
      get: {
        summary: 'The storm brake: on or off, since when and why', operationId: 'stormBrake',
        responses: { 200: json(ref('StormBrake'), 'Brake state'), ...errors(401) },
      },
    },
    '/v1/storm-brake/resume': {
      post: {
        summary: 'As `cmpha resume`: the active controller opens incidents for the hosts it holds back', operationId: 'resume',
        responses: { 200: json({ type: 'object', properties: { brakeActive: { type: 'boolean' }, reason: { type: 'string', nullable: true }, since: { type: 'string', nullable: true }, resumeRequested: { type: 'boolean' }, requestedBy: { type: 'string' } } }, 'Resume requested'), ...errors(401, 403) },
      },
    },
    '/v1/vm-failures': {
      get: {
        summary: 'VM failures acted on (Masakari VM notifications), newest first: server, host, status running/resolved/failed, timeline', operationId: 'listVmFailures',
        responses: { 200: json({ type: 'object', properties: { vmFailures: { type: 'array', items: ref('VmFailure') } } }, 'VM failures'), ...errors(401) },
      },
    },
    '/v1/vm-failures/{id}': {
      get: {
        summary: 'One VM failure with its timeline', operationId: 'showVmFailure', parameters: [idParam('id', 'VM failure id (the notification\'s incident_id)')],
        responses: { 200: json({ type: 'object', properties: { vmFailure: ref('VmFailure') } }, 'The VM failure'), ...errors(401, 404) },
      },
    },
    '/v1/ha': {
      get: {
        summary: 'As `cmpha ha status`: what is disarmed (in effect, or pending until the incidents in its scope end) and the latest changes', operationId: 'haStatus',
        parameters: [limit(20)],
        responses: { 200: json({ type: 'object', properties: { disarmed: { type: 'array', items: ref('Disarm') }, controllerView: { type: 'array', items: ref('Disarm'), nullable: true, description: 'the same as the detector\'s last round saw it (it knows the aggregates)' }, audit: { type: 'array', items: ref('DisarmAudit') } } }, 'Disarms and audit'), ...errors(400, 401) },
      },
    },
    '/v1/ha/disarm': {
      post: {
        summary: 'As `cmpha ha disarm`: no incident is opened in the scope (detection goes on); incidents already open there finish first', operationId: 'haDisarm',
        requestBody: { required: true, content: { 'application/json': { schema: ref('DisarmRequest') } } },
        responses: { 200: json({ type: 'object', properties: { disarm: ref('Disarm'), message: { type: 'string' }, replaced: { type: 'boolean' } } }, 'Disarmed (state says whether it is in effect or pending)'), ...errors(400, 401, 403) },
      },
    },
    '/v1/ha/arm': {
      post: {
        summary: 'As `cmpha ha arm`: the scope is under HA again (all: every disarm)', operationId: 'haArm',
        requestBody: { required: true, content: { 'application/json': { schema: ref('DisarmRequest') } } },
        responses: { 200: json({ type: 'object', properties: { armed: { type: 'array', items: { type: 'string' } } } }, 'Armed'), 409: json(ref('Error'), 'That scope is not disarmed (not_disarmed)'), ...errors(400, 401, 403) },
      },
    },
    '/v1/notifications': {
      post: {
        summary: "Masakari-compatible: a monitor's notification. COMPUTE_HOST is evidence, not proof: cmpha probes the host at once and decides by its own rules. PROCESS (nova-compute stopped) goes to the agent-down remediation, VM (a guest failed) to the instance-failure recovery (docs/masakari.md)", operationId: 'createNotification',
        requestBody: { required: true, content: { 'application/json': { schema: ref('NotificationRequest') } } },
        responses: { 202: json({ type: 'object', properties: { notification: ref('Notification') } }, 'Accepted'), ...mErrors(400, 401, 403, 409) },
      },
      get: {
        summary: 'Masakari-compatible: notifications received, newest first', operationId: 'listNotifications',
        parameters: [limit(100), { name: 'status', in: 'query', schema: { type: 'string' } }, { name: 'type', in: 'query', schema: { type: 'string' } }, { name: 'generated-since', in: 'query', schema: { type: 'string', format: 'date-time' } }],
        responses: { 200: json({ type: 'object', properties: { notifications: { type: 'array', items: ref('Notification') } } }, 'Notifications'), ...mErrors(400, 401) },
      },
    },
    '/v1/notifications/{uuid}': {
      get: {
        summary: 'Masakari-compatible: one notification', operationId: 'showNotification', parameters: [idParam('uuid', 'notification_uuid')],
        responses: { 200: json({ type: 'object', properties: { notification: ref('Notification') } }, 'The notification'), ...mErrors(401, 404) },
      },
    },
    '/v1/segments': {
      get: {
        summary: 'Masakari-compatible: failover segments, kept in Redis and seeded from cmpha.conf [segment:NAME] (with none in the file, first one implicit segment `cmpha`)', operationId: 'listSegments',
        parameters: ['recovery_method', 'service_type', 'enabled'].map((name) => ({ name, in: 'query', schema: { type: 'string' } })),
        responses: { 200: json({ type: 'object', properties: { segments: { type: 'array', items: ref('Segment') } } }, 'Segments'), ...mErrors(401) },
      },
      post: {
        summary: 'Masakari-compatible: creates a segment, which drives the recovery of the hosts added to it; reserved_host and auto_priority are refused 400 with why', operationId: 'createSegment',
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { segment: ref('Segment') } } } } },
        responses: { 201: json({ type: 'object', properties: { segment: ref('Segment') } }, 'Created'), ...mErrors(400, 401, 403, 409) },
      },
    },
    '/v1/segments/{segment_id}': {
      get: { summary: 'Masakari-compatible: one segment (by UUID or name)', operationId: 'showSegment', parameters: [idParam('segment_id', 'UUID or name')], responses: { 200: json({ type: 'object', properties: { segment: ref('Segment') } }, 'The segment'), ...mErrors(401, 404) } },
      put: { summary: 'Changes a segment (recovery_method, enabled, name, description, service_type); the implicit segment is 409', operationId: 'updateSegment', parameters: [idParam('segment_id', 'UUID or name')], responses: { 200: json({ type: 'object', properties: { segment: ref('Segment') } }, 'Updated'), ...mErrors(400, 401, 403, 404, 409) } },
      delete: { summary: 'Deletes a segment; the implicit segment is 409', operationId: 'deleteSegment', parameters: [idParam('segment_id', 'UUID or name')], responses: { 204: { description: 'Deleted' }, ...mErrors(401, 403, 404, 409) } },
    },
    '/v1/segments/{segment_id}/hosts': {
      get: {
        summary: "Masakari-compatible: a segment's hosts", operationId: 'listSegmentHosts', parameters: [idParam('segment_id', 'UUID or name'), ...['name', 'type', 'control_attributes', 'on_maintenance', 'reserved'].map((name) => ({ name, in: 'query', schema: { type: 'string' } }))],
        responses: { 200: json({ type: 'object', properties: { hosts: { type: 'array', items: ref('SegmentHost') } } }, 'Hosts'), ...mErrors(401, 404) },
      },
      post: { summary: "Masakari-compatible: adds a watched compute host (400 unknown host, 409 a host already in a segment)", operationId: 'createSegmentHost', parameters: [idParam('segment_id', 'UUID or name')], responses: { 201: json({ type: 'object', properties: { host: ref('SegmentHost') } }, 'The host'), ...mErrors(400, 401, 403, 404, 409) } },
    },
    '/v1/segments/{segment_id}/hosts/{host_id}': {
      get: { summary: 'Masakari-compatible: one host (by UUID or name)', operationId: 'showSegmentHost', parameters: [idParam('segment_id', 'UUID or name'), idParam('host_id', 'UUID or name')], responses: { 200: json({ type: 'object', properties: { host: ref('SegmentHost') } }, 'The host'), ...mErrors(401, 404) } },
      put: { summary: 'Sets reserved and on_maintenance (kept in Redis, read by the recovery); a change of name, type or control_attributes is 409', operationId: 'updateSegmentHost', parameters: [idParam('segment_id', 'UUID or name'), idParam('host_id', 'UUID or name')], responses: { 200: json({ type: 'object', properties: { host: ref('SegmentHost') } }, 'Updated'), ...mErrors(400, 401, 403, 404, 409) } },
      delete: { summary: "Removes a host from its segment (and its maintenance flag)", operationId: 'deleteSegmentHost', parameters: [idParam('segment_id', 'UUID or name'), idParam('host_id', 'UUID or name')], responses: { 204: { description: 'Removed' }, ...mErrors(401, 403, 404, 409) } },
    },
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'A token from an [api] read_token_files or write_token_files file' },
      xAuthToken: { type: 'apiKey', in: 'header', name: 'X-Auth-Token', description: 'The same token, as OpenStack clients send it' },
    },
    responses: Object.fromEntries([400, 401, 403, 404, 503].map((c) => [`E${c}`, json(ref('Error'), `Error (HTTP ${c})`)])),
    schemas: {
      Error: {
        type: 'object', required: ['error'],
        properties: { error: { type: 'object', required: ['code', 'message', 'status'], properties: { code: { type: 'string', description: 'stable, for scripts: unauthenticated, bad_token, read_only_token, incident_not_found, host_not_found, no_round_yet, ...' }, message: { type: 'string' }, status: { type: 'integer' } } } },
      },
      MasakariFault: { type: 'object', additionalProperties: { type: 'object', properties: { code: { type: 'integer' }, message: { type: 'string' } } }, description: 'e.g. {"badRequest":{"code":400,"message":"..."}}' },
      IncidentRecord: {
        type: 'object',
        properties: {
          id: { type: 'string' }, host: { type: 'string' }, status: { type: 'string', description: 'open, fencing, fenced, evacuating, verifying, resolved, partial, failed, aborted (and any status the recovery adds)' },
          origin: { type: 'string', enum: ['detector', 'operator'] }, failureStartedAt: { type: 'string', format: 'date-time' }, openedAt: { type: 'string', format: 'date-time' },
          updatedAt: { type: 'string', format: 'date-time' }, closedAt: { type: 'string', format: 'date-time' }, failoverMs: { type: 'integer' },
          ack: { type: 'object', properties: { by: { type: 'string' }, at: { type: 'string', format: 'date-time' } } }, evidence: { type: 'object' },
        },
      },
      Incident: {
        allOf: [ref('IncidentRecord'), {
          type: 'object',
          properties: {
            timeline: { type: 'array', items: { type: 'object', properties: { at: { type: 'string', format: 'date-time' }, step: { type: 'string' }, level: { type: 'string', enum: ['info', 'warning', 'critical'] }, message: { type: 'string' }, serverId: { type: 'string' } } } },
            instances: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, state: { type: 'string' }, source: { type: 'string' }, target: { type: 'string', nullable: true }, attempts: { type: 'integer' }, error: { type: 'string' } } } },
            deliveries: { type: 'array', items: { type: 'object' } },
          },
        }],
      },
      Round: { type: 'object', properties: { round: { type: 'integer' }, startedAt: { type: 'string', format: 'date-time' }, durationMs: { type: 'integer' }, leader: { type: 'boolean' }, dryRun: { type: 'boolean' }, isolated: { type: 'boolean' }, isolationReason: { type: 'string', nullable: true }, probeFailed: { type: 'string', nullable: true } } },
      Host: {
        type: 'object',
        properties: {
          host: { type: 'string' }, zone: { type: 'string', nullable: true },
          verdict: { type: 'string', enum: ['healthy', 'maintenance', 'suspect', 'unprobeable', 'agent-down', 'isolated-mgmt', 'dead'] },
          action: { type: 'string' }, fencing: { type: 'string' }, incidentId: { type: 'string', nullable: true },
          held: { type: 'string', nullable: true, description: 'why no incident is opened for it whatever it reads: HA disarmed for its scope, or [host:NAME] ha = false' },
          openIncident: { allOf: [ref('IncidentSummary')], nullable: true, description: 'the incident under way for this host (cmpha has disabled it, so its verdict reads maintenance)' },
          latestIncident: { allOf: [ref('IncidentSummary')], nullable: true, description: 'the newest incident for this host, open or closed' },
          evidence: { type: 'object', description: 'what each signal said: nova, mgmt, instances, reasons' },
        },
      },
      IncidentSummary: {
        type: 'object',
        properties: { id: { type: 'string' }, status: { type: 'string' }, origin: { type: 'string' }, openedAt: { type: 'string', format: 'date-time' }, closedAt: { type: 'string', format: 'date-time', nullable: true }, reasons: { type: 'array', items: { type: 'string' }, description: 'why the detector opened it' } },
      },
      StormBrake: { type: 'object', properties: { active: { type: 'boolean' }, since: { type: 'string', format: 'date-time', nullable: true }, reason: { type: 'string', nullable: true }, resumedHosts: { type: 'array', items: { type: 'string' }, nullable: true }, lastRound: { type: 'object', nullable: true } } },
      DisarmRequest: {
        type: 'object', description: 'exactly one of host, aggregate, zone, all',
        properties: {
          host: { type: 'string' }, aggregate: { type: 'string' }, zone: { type: 'string' }, all: { type: 'boolean' },
          reason: { type: 'string', description: 'required to disarm' }, until: { type: 'string', description: 'ISO 8601 time or a duration from now (2h)' },
          by: { type: 'string', description: 'the person, recorded with the token name' },
        },
      },
      Disarm: {
        type: 'object',
        properties: {
          key: { type: 'string', description: 'all, host:NAME, zone:NAME or aggregate:NAME' }, scope: { type: 'object', properties: { kind: { type: 'string', enum: ['host', 'aggregate', 'zone', 'all'] }, name: { type: 'string' } } },
          reason: { type: 'string' }, by: { type: 'string' }, at: { type: 'string', format: 'date-time' }, until: { type: 'string', format: 'date-time', nullable: true },
          state: { type: 'string', enum: ['in-effect', 'pending'] }, pendingOn: { type: 'array', items: { type: 'string' }, description: 'open incidents in the scope that finish first' },
          overdue: { type: 'string', nullable: true, description: 'past its until or older than [detector] disarm_limit' },
        },
      },
      DisarmAudit: {
        type: 'object',
        properties: { action: { type: 'string', enum: ['disarm', 'arm', 'in-effect'] }, scope: { type: 'object' }, by: { type: 'string' }, at: { type: 'string', format: 'date-time' }, reason: { type: 'string' }, until: { type: 'string', format: 'date-time', nullable: true } },
      },
      NotificationRequest: {
        type: 'object', required: ['notification'], additionalProperties: false,
        properties: {
          notification: {
            type: 'object', required: ['type', 'hostname', 'generated_time', 'payload'], additionalProperties: false,
            properties: {
              type: { type: 'string', enum: ['COMPUTE_HOST', 'PROCESS', 'VM'], description: 'payload: COMPUTE_HOST {event, host_status, cluster_status}; PROCESS {event, process_name}; VM {event, instance_uuid, vir_domain_event}' },
              hostname: { type: 'string', pattern: '^[a-zA-Z0-9-._]{1,255}$' },
              generated_time: { type: 'string', format: 'date-time' },
              payload: { type: 'object', required: ['event'], additionalProperties: false, properties: { event: { type: 'string' }, host_status: { type: 'string', enum: ['NORMAL', 'UNKNOWN'] }, cluster_status: { type: 'string', enum: ['ONLINE', 'OFFLINE'] }, process_name: { type: 'string' }, instance_uuid: { type: 'string' }, vir_domain_event: { type: 'string' } } },
            },
          },
        },
      },
      VmFailure: {
        type: 'object',
        properties: {
          id: { type: 'string' }, serverId: { type: 'string' }, serverName: { type: 'string' }, host: { type: 'string' }, notificationUuid: { type: 'string' }, what: { type: 'string' },
          status: { type: 'string', enum: ['running', 'resolved', 'failed'] }, openedAt: { type: 'string', format: 'date-time' }, closedAt: { type: 'string', format: 'date-time' },
          timeline: { type: 'array', items: { type: 'object', properties: { at: { type: 'string', format: 'date-time' }, step: { type: 'string' }, level: { type: 'string' }, message: { type: 'string' } } } },
        },
      },
      Segment: {
        type: 'object',
        properties: {
          uuid: { type: 'string' }, id: { type: 'integer' }, name: { type: 'string' }, description: { type: 'string', nullable: true },
          recovery_method: { type: 'string', enum: ['auto', 'rh_priority'], description: 'reserved_host and auto_priority are refused with why' }, service_type: { type: 'string' }, enabled: { type: 'boolean' },
          created_at: { type: 'string' }, updated_at: { type: 'string', nullable: true },
        },
      },
      SegmentHost: {
        type: 'object',
        properties: {
          uuid: { type: 'string' }, id: { type: 'integer' }, name: { type: 'string' }, failover_segment_id: { type: 'string' }, failover_segment: ref('Segment'), type: { type: 'string' },
          reserved: { type: 'boolean' }, control_attributes: { type: 'string' }, on_maintenance: { type: 'boolean', description: 'set through the API, or the host is disabled in the cloud' },
        },
      },
      Notification: {
        type: 'object',
        properties: {
          id: { type: 'integer' }, notification_uuid: { type: 'string', format: 'uuid' }, type: { type: 'string' }, hostname: { type: 'string' },
          generated_time: { type: 'string' }, payload: { type: 'object' },
          status: { type: 'string', enum: ['new', 'running', 'finished', 'error', 'ignored'], description: 'new: being probed; running: a cmpha incident is under way; finished: resolved; error: partial/failed; ignored: the host was found alive, or the event was STARTED' },
          message: { type: 'string' }, source_host_uuid: { type: 'string', format: 'uuid', description: 'derived from the host name (cmpha keeps no Masakari host records)' },
          failover_segment_uuid: { type: 'string', format: 'uuid' }, created_at: { type: 'string' }, updated_at: { type: 'string', nullable: true },
          created_by: { type: 'string', description: 'the API token that sent it' }, incident_id: { type: 'string', nullable: true },
        },
      },
    },
  },
} as const;
