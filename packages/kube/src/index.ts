export { type CreateKubeOptions, createKube } from './create-kube.js';
export type { Kube } from './kube.js';
export {
  type ApplyOptions,
  describeRef,
  type JsonPatchOperation,
  type KubeObject,
  type ListOptions,
  type ObjectMeta,
  type ObjectRef,
  refOf,
  type WatchEventType,
  type WatchHandle,
} from './types.js';
