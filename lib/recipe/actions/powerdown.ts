import { simpleAction } from "./action.ts";

/** `powerdown: {}`: the ACPI power button; done when POWERDOWN is seen. */
export default simpleAction(
  "powerdown",
  "press the ACPI power button (system_powerdown); done when POWERDOWN is seen",
  (vm, options) => vm.powerdown(options),
);
