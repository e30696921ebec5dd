// Everything ouroboros offers, in one include.
#pragma once

#include <ouro/array.hpp>
#include <ouro/config.hpp>
#include <ouro/contextlib.hpp>
#include <ouro/deque.hpp>
#include <ouro/dict.hpp>
#include <ouro/dyn_object.hpp>
#include <ouro/exceptions.hpp>
#include <ouro/finalize.hpp>
#include <ouro/gc.hpp>
#include <ouro/generator.hpp>
#include <ouro/heap.hpp>
#include <ouro/list.hpp>
#include <ouro/object.hpp>
#include <ouro/pool_resource.hpp>
#include <ouro/proxy.hpp>
#include <ouro/ref.hpp>
#include <ouro/sys.hpp>
#include <ouro/tracemalloc.hpp>
#include <ouro/unraisable.hpp>
#include <ouro/weak_key_dictionary.hpp>
#include <ouro/weak_method.hpp>
#include <ouro/weak_set.hpp>
#include <ouro/weak_value_dictionary.hpp>
#include <ouro/weakref.hpp>
