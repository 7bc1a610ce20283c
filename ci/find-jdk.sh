# Sourced by the launcher and the ci scripts: sets JAVA_HOME to a JDK >= 25, or explains what is missing.
# Order: $JAVA_HOME if it is new enough, then the JDKs installed under /usr/lib/jvm (newest first).
transfuse_jdk_version() {  # prints the feature version of the JDK at $1, or nothing
  [ -x "$1/bin/javac" ] || return 0
  "$1/bin/java" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n1
}
transfuse_find_jdk() {
  local candidate version
  for candidate in "${JAVA_HOME:-}" $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do
    [ -n "$candidate" ] || continue
    candidate=${candidate%/}
    version=$(transfuse_jdk_version "$candidate")
    if [ -n "$version" ] && [ "$version" -ge 25 ]; then
      export JAVA_HOME=$candidate
      return 0
    fi
  done
  echo "transfuse: no JDK 25 or newer found (checked \$JAVA_HOME=${JAVA_HOME:-unset} and /usr/lib/jvm); install one, e.g. Temurin 25, and set JAVA_HOME to it." >&2
  return 1
}
