# Sourced by demo.sh, test.sh and .ci/run: installs what deps/debian-packages.txt lists
# and is missing, then configures and builds the tree once.
deps_ensure() {
	local top missing p
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	missing=()
	while read -r p; do
		case "$p" in "" | \#*) continue ;; esac
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done <"$top/deps/debian-packages.txt"
	if ((${#missing[@]})); then
		echo "installing Debian packages: ${missing[*]}"
		if [ "$(id -u)" -ne 0 ]; then
			echo "error: missing packages and not root; run: sudo apt-get install ${missing[*]}" >&2
			return 1
		fi
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
			return 1
	fi
}

build_ensure() {
	local top
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	cd "$top" || return 1
	[ -x configure ] || ./autogen.sh || return 1
	[ -f Makefile ] || ./configure ${NURTURED_CONFIGURE_FLAGS:-} >/dev/null || return 1
	make -j"$(nproc)" >/dev/null || make || return 1
}
