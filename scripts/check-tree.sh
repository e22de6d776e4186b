#!/usr/bin/env bash
# Fails when the repository tracks what belongs in no source tree:
#   - an executable binary (ELF, Mach-O or PE), whatever its mode;
#   - a file with the executable bit that is not a script (#! first line);
#   - a file over 1 MiB, unless it is an image under docs/.
# Built programs belong in .gitignore; big data belongs nowhere in git.
#
# Usage: scripts/check-tree.sh     (from anywhere in the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

limit=$((1 << 20))
problems=0
problem() {
  echo "check-tree: $*" >&2
  problems=$((problems + 1))
}

# git ls-files -s: mode, object, stage, path (NUL-separated, any file name).
while IFS= read -r -d '' entry; do
  mode=${entry%% *}
  path=${entry#*$'\t'}
  [ "$mode" = 120000 ] && continue # a symbolic link: its target is checked
  [ "$mode" = 160000 ] && continue # a submodule
  [ -f "$path" ] || continue        # deleted in the work tree, not yet committed
  magic=$(head -c 4 "$path" | od -An -tx1 | tr -d ' \n')
  case $magic in
    7f454c46) problem "$path is an ELF binary" ;;
    feedface | feedfacf | cefaedfe | cffaedfe | cafebabe) problem "$path is a Mach-O binary" ;;
    4d5a*) # MZ; a PE file has "PE\0\0" where the word at 0x3c points
      pe=$(od -An -tu4 -j 60 -N 4 "$path" 2>/dev/null | tr -d ' ') || pe=
      if [ -n "$pe" ] && [ "$(od -An -tx1 -j "$pe" -N 4 "$path" 2>/dev/null | tr -d ' \n' || true)" = 50450000 ]; then
        problem "$path is a PE (Windows) binary"
      fi
      ;;
  esac
  if [ "$mode" = 100755 ] && [ "$(head -c 2 "$path")" != '#!' ]; then
    problem "$path is executable (mode 755) but not a script"
  fi
  size=$(wc -c <"$path")
  if [ "$size" -gt "$limit" ]; then
    case $path in
      docs/*.png | docs/*.jpg | docs/*.jpeg | docs/*.gif | docs/*.svg | docs/*.webp) ;;
      *) problem "$path is $((size / 1024)) KiB, over the 1 MiB limit (only images under docs/ may be)" ;;
    esac
  fi
done < <(git ls-files -s -z)

if [ "$problems" -gt 0 ]; then
  echo "check-tree: $problems problem(s)" >&2
  exit 1
fi
echo "check-tree: $(git ls-files | wc -l | tr -d ' ') tracked files, no binary, none over 1 MiB"
