import { parsePlatformConfig } from '@breakfix/manifests';

/** The host cluster the isolation proof assumes: pods, services, nodes and API server apart. */
export const VERIFY_PLATFORM = parsePlatformConfig({
  hostNetworks: {
    podCidrs: ['10.244.0.0/16'],
    serviceCidrs: ['10.96.0.0/12'],
    nodeCidrs: ['192.168.10.0/24'],
    apiServerCidrs: ['172.20.0.1/32'],
  },
  operator: { publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIsolationProofOnly breakfix-operator' },
});
