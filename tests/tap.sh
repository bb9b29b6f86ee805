# tap.sh: TAP helpers for the shell tests (sourced).
#
#   ok COND-STATUS NAME       ok 0 "name" passes, anything else fails
#   run CMD...                runs CMD, capturing $out, $err and $status
#   is GOT WANT NAME          string equality
#   like GOT NEEDLE NAME      GOT contains NEEDLE
#   skip_all REASON           "1..0 # SKIP REASON" and exit 0
#   done_testing              prints the plan and exits 1 if anything failed

tap_n=0
tap_failed=0
tap_tmp=$(mktemp -d "${TMPDIR:-/tmp}/lorens-test.XXXXXX")
trap 'rm -rf "$tap_tmp"' EXIT

diag() { printf '# %s\n' "$*" | sed '2,$s/^/# /'; }

ok() {
  tap_n=$((tap_n + 1))
  if [ "$1" -eq 0 ]; then
    printf 'ok %d - %s\n' "$tap_n" "$2"
  else
    tap_failed=$((tap_failed + 1))
    printf 'not ok %d - %s\n' "$tap_n" "$2"
  fi
}

run() {
  "$@" >"$tap_tmp/out" 2>"$tap_tmp/err"
  status=$?
  out=$(cat "$tap_tmp/out")
  err=$(cat "$tap_tmp/err")
}

is() {
  if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; diag "got '$1', want '$2'"; fi
}

like() {
  case $1 in
    *"$2"*) ok 0 "$3" ;;
    *) ok 1 "$3"; diag "this does not contain '$2':"; diag "$1" ;;
  esac
}

skip() {
  tap_n=$((tap_n + 1))
  printf 'ok %d - %s # SKIP %s\n' "$tap_n" "$2" "$1"
}

skip_all() {
  printf '1..0 # SKIP %s\n' "$1"
  exit 0
}

# shared_files FILE...: skips the whole test unless every FILE is there (the models and data in
# ../shared, which a bare checkout lacks).
shared_files() {
  for f in "$@"; do
    [ -f "$f" ] || skip_all "$f is absent (../shared holds it)"
  done
}

done_testing() {
  printf '1..%d\n' "$tap_n"
  [ "$tap_failed" -eq 0 ]
  exit $?
}
