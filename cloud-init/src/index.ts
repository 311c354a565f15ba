export { kubeadmConfig, kubeadmPatches } from './kubeadm.js';
export { BOOTSTRAP_SCRIPT, bootstrapEnv } from './scripts.js';
export { IMAGE_PATHS, type NodeBootstrap } from './types.js';
export { renderUserData, SSHD_DROP_IN } from './user-data.js';
