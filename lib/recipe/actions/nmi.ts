import { simpleAction } from "./action.ts";

/** `nmi: {}`: inject an NMI (the built-in guest, like Linux with unknown_nmi_panic, panics). */
export default simpleAction(
  "nmi",
  "inject an NMI into every CPU (inject-nmi)",
  (vm, options) => vm.injectNmi(options),
);
