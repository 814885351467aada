import type { FlagSpec } from './parse.js';

/** Flags shared by `run` and `create`, with Docker's names and help. */
export const CREATE_FLAGS: FlagSpec[] = [
  { long: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
  { long: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
  { long: 'name', type: 'string', description: 'Assign a name to the container' },
  { long: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
  { long: 'env-file', type: 'list', description: 'Read in a file of environment variables' },
  { long: 'workdir', short: 'w', type: 'string', description: 'Working directory inside the container' },
  { long: 'user', short: 'u', type: 'string', description: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { long: 'entrypoint', type: 'string', description: 'Overwrite the default ENTRYPOINT of the image' },
  { long: 'hostname', short: 'h', type: 'string', description: 'Container host name' },
  { long: 'memory', short: 'm', type: 'string', value: 'bytes', description: 'Memory limit' },
  { long: 'pids-limit', type: 'string', value: 'int', description: 'Tune container pids limit (set -1 for unlimited)' },
  { long: 'read-only', type: 'bool', description: "Mount the container's root filesystem as read only" },
  { long: 'label', short: 'l', type: 'list', description: 'Set meta data on a container' },
  { long: 'rm', type: 'bool', description: 'Automatically remove the container and its associated anonymous volumes when it exits' },
  { long: 'pull', type: 'string', description: 'Pull image before running ("always", "missing", "never")', default: 'missing' },
  { long: 'publish', short: 'p', type: 'list', description: "Publish a container's port(s) to the host ([hostIp:][hostPort:]containerPort, TCP)" },
  { long: 'publish-all', short: 'P', type: 'bool', description: 'Publish all exposed ports to random ports' },
  { long: 'network', type: 'string', description: 'Connect a container to a network (bridge, host, none, or a network name)' },
  { long: 'net', type: 'string', description: 'Alias of --network' },
  { long: 'network-alias', type: 'list', description: 'Add network-scoped alias for the container' },
  { long: 'volume', short: 'v', type: 'list', description: 'Bind mount a volume (name:/path[:ro], /guest/path:/path, or /path)' },
  { long: 'mount', type: 'list', description: 'Attach a filesystem mount to the container (type=volume|bind|tmpfs,source=,target=,readonly)' },
  { long: 'tmpfs', type: 'list', description: 'Mount a tmpfs directory' },
  { long: 'cpus', type: 'string', value: 'decimal', description: 'Number of CPUs' },
  { long: 'restart', type: 'string', description: 'Restart policy to apply when a container exits (no, on-failure[:N], always, unless-stopped)', default: 'no' },
  { long: 'cap-add', type: 'list', description: 'Add Linux capabilities' },
  { long: 'cap-drop', type: 'list', description: 'Drop Linux capabilities' },
  { long: 'privileged', type: 'bool', description: 'Give extended privileges to this container (not supported: refused)' },
  { long: 'init', type: 'bool', description: 'Run an init inside the container (not supported yet: refused)' },
];

export const RUN_FLAGS: FlagSpec[] = [
  { long: 'detach', short: 'd', type: 'bool', description: 'Run container in background and print container ID' },
  ...CREATE_FLAGS,
];
