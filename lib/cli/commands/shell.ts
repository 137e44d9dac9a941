import { userPath } from "../_args.ts";
import { defineCommand, flag, text } from "../command.ts";
import { shellMain } from "../shell.ts";

const USAGE = `usage: corral shell TARGET… [options]

An interactive QMP shell. TARGET is unix:/path, tcp:host:port, or the name
of a VM corral started that still runs (corral ps); with several, @SELECTOR
COMMAND runs a command on some of them. Type COMMAND key=value a.b=1
list=[1,2] name="two words", or a raw JSON request; Tab completes commands,
arguments and enum values from the VM's own schema; events print as they
come; wait EVENT waits for the next one; help lists the rest. Ctrl-C
cancels the command in flight, Ctrl-D leaves. History is kept in
$XDG_STATE_HOME/corral/shell_history. With standard input not a terminal,
it runs the lines as a script and stops at the first error (exit 1).

options:
  --hmp              every line is a human monitor (HMP) command
  --agent            TARGET is a guest agent's socket (qemu-ga): synced on
                     connect and after every timeout, commands completed from
                     the agent's own list
  --log FILE         append a transcript to FILE
  -h, --help         this help`;

/** `corral shell TARGET…`: QMP (or HMP, or the agent) by hand. */
export default defineCommand({
  name: "shell",
  synopsis: "TARGET…",
  usage: USAGE,
  flags: {
    hmp: { type: "boolean", default: false },
    agent: { type: "boolean", default: false },
    log: { type: "string" },
  },
  async run({ values, positionals }) {
    if (positionals.length === 0) {
      console.error(`corral shell: name a VM or a QMP address\n\n${USAGE}`);
      return 2;
    }
    return await shellMain(positionals, {
      hmp: flag(values, "hmp"),
      agent: flag(values, "agent"),
      log: userPath(text(values, "log")),
    });
  },
});
