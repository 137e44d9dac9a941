import { type Command, defineCommand } from "../command.ts";

const USAGE = `usage: corral completions bash|zsh

Print a shell completion script for corral's commands and options:
  corral completions bash > ~/.local/share/bash-completion/completions/corral
  corral completions zsh > "\${fpath[1]}/_corral"`;

/** `corral completions bash|zsh`: a completion script made from the command table. */
export default defineCommand({
  name: "completions",
  synopsis: "bash|zsh",
  usage: USAGE,
  flags: {},
  run({ positionals, commands }) {
    const text = script(positionals[0], commands);
    if (text === undefined) {
      console.error(`corral completions: say bash or zsh\n\n${USAGE}`);
      return Promise.resolve(2);
    }
    console.log(text);
    return Promise.resolve(0);
  },
});

/** The completion script for `kind` (bash or zsh), from the command table. */
function script(kind: string | undefined, table: readonly Command[]): string | undefined {
  const commands = table.map((command) => command.name).join(" ");
  // Every command's flags from its definition (the hidden ones too: they complete all the same).
  const options = Object.fromEntries(
    table.map((command) => [
      command.name,
      [...Object.keys(command.flags).map((name) => `--${name}`), "--help"].join(" "),
    ]),
  );
  if (kind === "bash") {
    return (
      `# bash completion for corral: corral completions bash > ~/.local/share/bash-completion/completions/corral
_corral() {
  local cur=\${COMP_WORDS[COMP_CWORD]} sub=\${COMP_WORDS[1]}
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${commands} --version --help" -- "$cur")); return
  fi
  case "$sub" in
${Object.entries(options).map(([name, opts]) => `    ${name}) local opts="${opts}" ;;`).join("\n")}
    *) local opts="" ;;
  esac
  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [ "$sub" = shell ]; then COMPREPLY=($(compgen -W "$(corral ps --names 2>/dev/null)" -- "$cur"))
  else COMPREPLY=($(compgen -f -- "$cur")); fi
}
complete -o filenames -F _corral corral`
    );
  }
  if (kind === "zsh") {
    return `#compdef corral
# zsh completion for corral: corral completions zsh > "\${fpath[1]}/_corral"
_corral() {
  if (( CURRENT == 2 )); then compadd -- ${commands} --version --help; return; fi
  case $words[2] in
${
      Object.entries(options).map(([name, opts]) => `    ${name}) compadd -- ${opts}; _files ;;`)
        .join("\n")
    }
  esac
}
compdef _corral corral`;
  }
  return undefined;
}
