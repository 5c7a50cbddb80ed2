# The web dashboard (web/), built with npm and embedded into tidegated.
#
#   tidegate_web_assets(OUT_VAR)
#
# Defines, in the calling directory, the commands that (1) run `npm ci` from web/package-lock.json
# into <build>/web/npm (rerun only when package.json or the lock file change), (2) bundle web/src
# with esbuild into <build>/web/dist and (3) write <build>/web/web_assets_data.cc holding those
# bytes. OUT_VAR receives the generated source; a target that compiles it depends on all three.
# Also sets TIDEGATE_WEB_NODE_MODULES (where playwright-core is for the browser tests).

function(tidegate_web_assets out_var)
  find_program(TIDEGATE_NODE node)
  find_program(TIDEGATE_NPM npm)
  if(NOT TIDEGATE_NODE OR NOT TIDEGATE_NPM)
    message(FATAL_ERROR
      "tidegate dashboard: Node.js and npm are needed to build the dashboard (node: "
      "${TIDEGATE_NODE}, npm: ${TIDEGATE_NPM}). Run `scripts/deps.sh build`, or configure with "
      "-DTIDEGATE_BUILD_DASHBOARD=OFF.")
  endif()
  set(web ${PROJECT_SOURCE_DIR}/web)
  set(out ${PROJECT_BINARY_DIR}/web)
  set(stamp ${out}/npm/ci.stamp)
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -DNPM=${TIDEGATE_NPM} -DSRC=${web} -DDIR=${out}/npm -DSTAMP=${stamp}
            -P ${PROJECT_SOURCE_DIR}/cmake/NpmCi.cmake
    DEPENDS ${web}/package.json ${web}/package-lock.json ${PROJECT_SOURCE_DIR}/cmake/NpmCi.cmake
    COMMENT "Installing the dashboard's npm packages (npm ci)"
    VERBATIM)
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${web}/src/*)
  add_custom_command(
    OUTPUT ${out}/web_assets_data.cc
    COMMAND ${TIDEGATE_NODE} ${web}/tools/build.mjs --out ${out}/dist
            --node-modules ${out}/npm/node_modules
    COMMAND ${TIDEGATE_NODE} ${web}/tools/embed.mjs --in ${out}/dist --out ${out}/web_assets_data.cc
    DEPENDS ${stamp} ${sources} ${web}/tools/build.mjs ${web}/tools/embed.mjs
    COMMENT "Building the dashboard (esbuild) and embedding its assets"
    VERBATIM)
  set(${out_var} ${out}/web_assets_data.cc PARENT_SCOPE)
  set(TIDEGATE_WEB_NODE_MODULES ${out}/npm/node_modules CACHE INTERNAL "")
endfunction()
