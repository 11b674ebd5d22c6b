# processes.sh — sourced by the launchers that can run as several processes (tools/train,
# tools/bench train; docs/distributed.md). Two functions:
#
#   build_for_processes TARGET   scripts/bootstrap.sh TARGET, one process at a time: under
#                                mpirun every process runs the launcher, and they must not
#                                install or build at once (a lock in build/). Quiet on all but
#                                the first process of each machine, unless the build fails.
#   run_processes PROGRAM ARGS   exec PROGRAM ARGS; with --procs P among ARGS and not already
#                                under mpirun: exec mpirun -np P --bind-to none [--oversubscribe
#                                when P exceeds the cores] [--allow-run-as-root as root]
#                                PROGRAM ARGS (--procs stays: the program checks it). Open MPI's
#                                mpirun (scripts/bootstrap.sh installs it).

# The value of --procs in "$@", or nothing.
procs_flag() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --procs) echo "${2:-}"; return ;;
      --procs=*) echo "${1#--procs=}"; return ;;
    esac
    shift
  done
}

build_for_processes() {
  local lock="$root/build/.bootstrap.lock"
  mkdir -p "$root/build"
  if [ "${OMPI_COMM_WORLD_LOCAL_RANK:-0}" = 0 ]; then
    flock "$lock" "$root/scripts/bootstrap.sh" "$@"
  else
    local log
    log=$(flock "$lock" "$root/scripts/bootstrap.sh" "$@" 2>&1) || { echo "$log" >&2; return 1; }
  fi
}

run_processes() {
  local program=$1
  shift
  local procs
  procs=$(procs_flag "$@")
  if [ -z "$procs" ] || [ -n "${OMPI_COMM_WORLD_SIZE:-}" ]; then
    exec "$program" "$@"
  fi
  if ! command -v mpirun > /dev/null; then
    echo "$(basename "$program"): --procs needs mpirun (apt-get install openmpi-bin)" >&2
    exit 2
  fi
  # Every process gets all the cores it may use: OpenMP threads per process come from --threads
  # (by default the cores divided among the processes), not from mpirun's one-core binding.
  local options=(-np "$procs" --bind-to none)
  [[ "$procs" =~ ^[0-9]+$ ]] && [ "$procs" -gt "$(nproc)" ] && options+=(--oversubscribe)
  [ "$(id -u)" -eq 0 ] && options+=(--allow-run-as-root)
  exec mpirun "${options[@]}" "$program" "$@"
}
