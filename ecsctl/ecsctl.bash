# bash completion for ecsctl: verbs, subverbs, flags, -o formats and profile names.
# Install as /usr/share/bash-completion/completions/ecsctl, or source it from ~/.bashrc.
# The candidates come from `ecsctl __complete WORD…`, generated from the same tables as the
# parser and `ecsctl help`, so they never drift; where it offers none (a file argument),
# bash completes file names.
_ecsctl()
{
	local IFS=$'\n'
	COMPREPLY=($(command ecsctl __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _ecsctl ecsctl
