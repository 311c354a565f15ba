import type {
  ApplyOptions,
  JsonPatchOperation,
  KubeObject,
  ListOptions,
  ObjectRef,
  WatchEventType,
  WatchHandle,
} from './types.js';

/**
 * The narrow port breakfix uses to talk to a Kubernetes API server. Every call has a deadline;
 * failures arrive as named errors from @breakfix/core (InvalidInputError for objects the apiserver
 * rejects, naming the field; ConflictError; NotFoundError; UpstreamError for the rest).
 */
export interface Kube {
  /** Server-side apply with our field manager and `fieldValidation=Strict`. */
  apply<T extends KubeObject>(object: T, options?: ApplyOptions): Promise<T>;
  /**
   * Merge-patches `status`, through the status subresource when the kind has one. (Not server-side
   * apply: for kinds without the subresource, one manager applying only status would drop its spec.)
   */
  patchStatus<T extends KubeObject = KubeObject>(ref: ObjectRef, status: Record<string, unknown>): Promise<T>;
  /**
   * A JSON patch (RFC 6902), as controllers change fields they share with others: a `test`
   * operation makes it conditional (a failed test is an InvalidInputError, the apiserver's 422).
   * Resolves undefined when the object is gone: a patch never creates one.
   */
  patch<T extends KubeObject = KubeObject>(
    ref: ObjectRef,
    operations: readonly JsonPatchOperation[],
  ): Promise<T | undefined>;
  get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined>;
  list<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, options?: ListOptions): Promise<T[]>;
  /**
   * Deletes with background propagation; resolves false when the object was already gone.
   * `gracePeriodSeconds: 0` ends a pod's graceful deletion, as its kubelet does once it stopped.
   */
  delete(ref: ObjectRef, options?: { gracePeriodSeconds?: number }): Promise<boolean>;
  /** Binds a pending pod to a node, as a scheduler does (the pod's `binding` subresource). */
  bind(pod: { namespace: string; name: string }, nodeName: string): Promise<void>;
  /**
   * Streams changes to objects of a kind. The handler sees every current object as ADDED first.
   * `onError` is called when the stream ends for any reason other than `stop()`.
   */
  watch<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    options: ListOptions,
    onEvent: (type: WatchEventType, object: T) => void,
    onError: (error: unknown) => void,
  ): Promise<WatchHandle>;
}
