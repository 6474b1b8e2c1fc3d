# build_info.cmake — run at every build (cmake -P) by the weft_build_info target: writes build_info.h for
# `weft version` with the project's version, `git describe` of the source tree (if it is a git checkout
# and git is here) and the compiler. The header is rewritten only when that changes, so nothing rebuilds
# for nothing. In: OUT, SRC, VERSION, COMPILER, BUILD_TYPE.
set(git "unknown")
find_program(GIT git)
if(GIT)
  execute_process(COMMAND ${GIT} describe --always --dirty --tags WORKING_DIRECTORY ${SRC}
                  OUTPUT_VARIABLE described RESULT_VARIABLE rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(rc EQUAL 0 AND described)
    set(git "${described}")
  endif()
endif()
if(NOT BUILD_TYPE)
  set(BUILD_TYPE "default")
endif()
set(text "// build_info.h — written by services/cli/build_info.cmake at build time; not in git.
#define WEFT_BUILD_VERSION \"${VERSION}\"
#define WEFT_BUILD_GIT \"${git}\"
#define WEFT_BUILD_COMPILER \"${COMPILER}\"
#define WEFT_BUILD_TYPE \"${BUILD_TYPE}\"
")
file(WRITE ${OUT}.tmp "${text}")
configure_file(${OUT}.tmp ${OUT} COPYONLY)
