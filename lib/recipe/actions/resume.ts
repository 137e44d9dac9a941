import { simpleAction } from "./action.ts";

/** `resume: {}`: continue the guest; done when RESUME is seen. */
export default simpleAction(
  "resume",
  "continue the VM (QMP cont); done when RESUME is seen",
  (vm, options) => vm.resume(options),
);
