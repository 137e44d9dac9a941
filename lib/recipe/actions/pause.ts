import { simpleAction } from "./action.ts";

/** `pause: {}`: stop the guest; done when STOP is seen. */
export default simpleAction(
  "pause",
  "stop the VM (QMP stop); done when STOP is seen",
  (vm, options) => vm.pause(options),
);
