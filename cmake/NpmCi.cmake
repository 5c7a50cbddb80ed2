# Installs the dashboard's npm dependencies from its lock file into the build tree.
#   cmake -DNPM=... -DSRC=<web dir> -DDIR=<build dir> -DSTAMP=<file> -P NpmCi.cmake
# Fails with a message that says what to do when npm is missing or the registry is unreachable.
file(MAKE_DIRECTORY ${DIR})
foreach(f package.json package-lock.json)
  configure_file(${SRC}/${f} ${DIR}/${f} COPYONLY)
endforeach()
execute_process(
  COMMAND ${NPM} ci --no-audit --no-fund --prefer-offline --loglevel=error
  WORKING_DIRECTORY ${DIR}
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR
    "tidegate dashboard: 'npm ci' failed in ${DIR} (exit ${rc}).\n"
    "The build installs the dashboard's front-end packages (web/package-lock.json) from the npm "
    "registry once; it needs network access to the registry (or a populated npm cache) the first "
    "time. Check `npm ping`, proxy settings and ~/.npmrc, or configure with "
    "-DTIDEGATE_BUILD_DASHBOARD=OFF to build tidegated without the dashboard.\n"
    "npm said:\n${err}${out}")
endif()
file(TOUCH ${STAMP})
