// The artifact kinds the API serves, how their lists summarise them, and the skeleton a new one starts from
// (the same skeletons as `vamp generate`).

export type Json = Record<string, unknown>;

export interface KindInfo {
  /** The API path segment (plural). */
  plural: string;
  singular: string;
  title: string;
  /** Columns after the name: header and how to show an item. */
  columns: [string, (item: Json) => string][];
  /** The YAML a new artifact starts from. */
  skeleton: string;
  /** What the kind is, one line for the list page. */
  blurb: string;
}

function str(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function keys(v: unknown): string {
  return v && typeof v === 'object' ? Object.keys(v as Json).join(', ') : '';
}

function deployable(v: unknown): string {
  if (!v) return '';
  if (typeof v === 'string') return v;
  const d = v as Json;
  return d.type ? `${str(d.type)}: ${str(d.definition)}` : str(d.definition);
}

function serviceCount(item: Json): number {
  const clusters = (item.clusters ?? {}) as Record<string, Json>;
  return Object.values(clusters).reduce(
    (n, c) => n + (Array.isArray(c?.services) ? (c.services as unknown[]).length : 0),
    0,
  );
}

export const KINDS: KindInfo[] = [
  {
    plural: 'deployments',
    singular: 'deployment',
    title: 'Deployments',
    blurb: 'Running blueprints: clusters of services, their instances and gateways.',
    columns: [
      ['clusters', (i) => keys(i.clusters)],
      ['services', (i) => String(serviceCount(i))],
      ['gateways', (i) => keys(i.gateways)],
    ],
    skeleton: `name: my-deployment
gateways:
  9050: sava/web
clusters:
  sava:
    services:
      - breed:
          name: sava:1.0
          deployable: magneticio/sava:1.0.0
          ports:
            web: 8080/http
        scale: {cpu: 0.2, memory: 128MB, instances: 1}
`,
  },
  {
    plural: 'gateways',
    singular: 'gateway',
    title: 'Gateways',
    blurb: 'Ports that route traffic to services by weight and condition, through HAProxy.',
    columns: [
      ['port', (i) => str(i.port)],
      ['routes', (i) => String(Object.keys((i.routes ?? {}) as Json).length)],
      ['virtual hosts', (i) => (Array.isArray(i.virtual_hosts) ? i.virtual_hosts.join(', ') : '')],
      ['sticky', (i) => str(i.sticky)],
    ],
    skeleton: `name: my-gateway
port: 9060/http
routes:
  sava/sava/web:
    weight: 100%
`,
  },
  {
    plural: 'blueprints',
    singular: 'blueprint',
    title: 'Blueprints',
    blurb: 'Deployable descriptions of clusters, services and gateways.',
    columns: [
      ['clusters', (i) => keys(i.clusters)],
      ['services', (i) => String(serviceCount(i))],
      ['gateways', (i) => keys(i.gateways)],
    ],
    skeleton: `name: my-blueprint
gateways:
  9050: sava/web
clusters:
  sava:
    services:
      - breed:
          name: sava:1.0
          deployable: magneticio/sava:1.0.0
          ports:
            web: 8080/http
        scale: {cpu: 0.2, memory: 128MB, instances: 1}
`,
  },
  {
    plural: 'breeds',
    singular: 'breed',
    title: 'Breeds',
    blurb: 'What runs: a deployable (image or command), its ports, environment and dependencies.',
    columns: [
      ['deployable', (i) => deployable(i.deployable)],
      ['ports', (i) => (i.ports && typeof i.ports === 'object' ? Object.entries(i.ports as Json).map(([k, v]) => `${k} ${str(v)}`).join(', ') : '')],
    ],
    skeleton: `name: my-breed:1.0
deployable: magneticio/sava:1.0.0
ports:
  web: 8080/http
`,
  },
  {
    plural: 'workflows',
    singular: 'workflow',
    title: 'Workflows',
    blurb: 'Scheduled or daemon automation, run by the workflow driver.',
    columns: [
      ['status', (i) => str(i.status)],
      ['schedule', (i) => str(i.schedule)],
      ['breed', (i) => (typeof i.breed === 'object' && i.breed ? str((i.breed as Json).name ?? (i.breed as Json).reference) : str(i.breed))],
    ],
    skeleton: `name: my-workflow
breed:
  name: my-workflow-breed
  deployable: magneticio/vamp-workflow:1.0
schedule: daemon
`,
  },
  {
    plural: 'conditions',
    singular: 'condition',
    title: 'Conditions',
    blurb: 'Named routing conditions that gateway routes refer to.',
    columns: [['condition', (i) => str(i.condition)]],
    skeleton: `name: my-condition
condition: User-Agent = Firefox
`,
  },
  {
    plural: 'rewrites',
    singular: 'rewrite',
    title: 'Rewrites',
    blurb: 'Named path rewrites: "<new path> if <condition>".',
    columns: [
      ['path', (i) => str(i.path)],
      ['condition', (i) => str(i.condition)],
    ],
    skeleton: `name: my-rewrite
path: /v2/%[path] if { path_beg /api }
`,
  },
  {
    plural: 'routes',
    singular: 'route',
    title: 'Routes',
    blurb: 'Named route settings (weight, condition, strength, rewrites).',
    columns: [
      ['weight', (i) => str(i.weight)],
      ['condition', (i) => str((i.condition as Json)?.condition ?? (i.condition as Json)?.reference ?? i.condition)],
    ],
    skeleton: `name: my-route
weight: 100%
`,
  },
  {
    plural: 'scales',
    singular: 'scale',
    title: 'Scales',
    blurb: 'CPU, memory and instances of a service.',
    columns: [
      ['cpu', (i) => str(i.cpu)],
      ['memory', (i) => str(i.memory)],
      ['instances', (i) => str(i.instances)],
    ],
    skeleton: `name: my-scale
cpu: 0.5
memory: 512MB
instances: 1
`,
  },
  {
    plural: 'slas',
    singular: 'sla',
    title: 'SLAs',
    blurb: 'Service-level agreements that trigger escalations.',
    columns: [
      ['type', (i) => str(i.type)],
      ['escalations', (i) => (Array.isArray(i.escalations) ? i.escalations.map(str).join(', ') : '')],
    ],
    skeleton: `name: my-sla
type: response_time_sliding_window
window:
  interval: 600
  cooldown: 600
threshold:
  upper: 1000
  lower: 100
escalations:
  - scale-up
`,
  },
  {
    plural: 'escalations',
    singular: 'escalation',
    title: 'Escalations',
    blurb: 'What an SLA does when it is violated (scale instances, CPU, memory, …).',
    columns: [
      ['type', (i) => str(i.type)],
      ['minimum', (i) => str(i.minimum)],
      ['maximum', (i) => str(i.maximum)],
    ],
    skeleton: `name: scale-up
type: scale_instances
minimum: 1
maximum: 3
scale_by: 1
`,
  },
  {
    plural: 'templates',
    singular: 'template',
    title: 'Templates',
    blurb: 'Reusable definitions merged into the documents that import them.',
    columns: [['keys', (i) => keys(i.definition)]],
    skeleton: `name: my-template
definition:
  deployable: magneticio/sava:1.0.0
  ports:
    web: 8080/http
`,
  },
];

/**
 * The skeleton of a new `kind` for a server whose container driver runs `deployableTypes`: with a driver that
 * cannot run container images (the embedded default's process driver), breeds run the demo service instead.
 */
export function skeletonFor(kind: KindInfo, deployableTypes: string[] | undefined): string {
  const images = !deployableTypes || deployableTypes.some((t) => t.includes('docker') || t.includes('container'));
  if (images || !deployableTypes.includes('process')) return kind.skeleton;
  return kind.skeleton.replace(
    /^([ \t]*)deployable: magneticio\/sava:1\.0\.0$/m,
    '$1deployable: {type: process, definition: "vamp demo-service --name sava-1.0"}',
  );
}

export function kindInfo(plural: string): KindInfo | undefined {
  return KINDS.find((k) => k.plural === plural || k.singular === plural);
}

/** The display and link form of a name: segments encoded, but `:` and `@` kept readable. */
export function namePath(name: string): string {
  return name
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/%3A/gi, ':').replace(/%40/g, '@'))
    .join('/');
}
