# Tests of the Envoy RLS v3 gRPC front end (src/server/grpc_*). They bind loopback ports, hence
# `integration`. Included from test/server/CMakeLists.txt.
tidegate_cc_test(NAME grpc_server_test SRCS ${CMAKE_CURRENT_LIST_DIR}/grpc_server_test.cc
  DEPS tidegate::grpc_transport LABELS integration)
if(TARGET tidegate_grpc_rls)
  tidegate_cc_test(NAME grpc_service_test SRCS ${CMAKE_CURRENT_LIST_DIR}/grpc_service_test.cc
    DEPS tidegate::grpc_rls tidegate::history LABELS integration)
endif()
