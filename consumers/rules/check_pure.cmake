# check_pure.cmake - fails if the rule book is not pure.
#
# FILES ('|'-separated) are the files of the rule book and of the pure parts
# it stands on. Each may include system headers and other files of FILES,
# nothing else: no header of an I/O library (librdkafka, SQLite, jansson,
# libmicrohttpd, Avro C) and no project header outside FILES (which could
# bring one in). Writes STAMP when all is well.
# Run as: cmake -DFILES=a.c|a.h|... -DSTAMP=<file> -P check_pure.cmake
string(REPLACE "|" ";" files "${FILES}")
set(names "")
foreach(f IN LISTS files)
  get_filename_component(n ${f} NAME)
  list(APPEND names ${n})
endforeach()

set(banned "rdkafka|rdkafka_mock|sqlite3|jansson|microhttpd|avro")
set(errors "")
foreach(f IN LISTS files)
  file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS lines)
    if(line MATCHES "[<\"]([^>\"]*/)?(${banned})\\.h[>\"]")
      string(APPEND errors "  ${f}: ${line}\n")
    elseif(line MATCHES "\"([^\"]+)\"")
      get_filename_component(inc ${CMAKE_MATCH_1} NAME)
      list(FIND names ${inc} found)
      if(found EQUAL -1)
        string(APPEND errors "  ${f}: ${line} (not part of the pure rule book)\n")
      endif()
    endif()
  endforeach()
endforeach()

if(errors)
  message(FATAL_ERROR "The rule book must stay pure (libc, libm, libcrypto; "
    "see docs/ARCHITECTURE.md), but:\n${errors}")
endif()
file(WRITE ${STAMP} "ok\n")
